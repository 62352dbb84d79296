"""Staff publishing: kits and materials made and kept in the portal.

``uploads`` checks files staff give, ``sources`` renders the HTML and CSS they edit,
``services`` makes kits, materials and versions and publishes, schedules and withdraws
them; the pages are in ``portal.staff.publishing``.
"""
