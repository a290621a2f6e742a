"""Mail: the transactional outbox, its templates, and delivery over .eml files or SMTP (TLS 1.2+).

- ``outbox``: ``enqueue`` a message inside the transaction of the change that causes it.
- ``templates``: the plain-text templates in ``resources/mail/``.
- ``delivery``: ``deliver_pending`` and ``transport_from_settings``.
- ``eml`` / ``smtp``: the two transports; ``transport``: what a transport is.
"""
