from services.authz import SYSTEM
from services.users import add_identity, get_identity


def test_add_and_show_on_each_backend(ctx, make_person):
    admin = make_person("platform_admin")
    detail = add_identity(ctx, admin, " Alex.Morgan@Northwind.example ", "Alex", "Morgan", "XOS",
                          ["DES:viewer"])
    assert detail.login_id == "alex.morgan@northwind.example"
    assert get_identity(ctx, SYSTEM, "ALEX.MORGAN@northwind.example").subject == detail.subject
