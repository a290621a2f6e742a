"""Moving legacy accounts into the identity store: the export, reader, plan and run."""
