"""The demo's data and how it is written: specs, clients, plan, write (see seed_demo)."""
