"""Spreadsheet import and export (django-import-export resources, jobs and formats).

Modules: `files` reads bytes into rows, `cells` cleans single values, `formats` plugs both into
django-import-export, `base` is the shared resource, and `stock`, `catalog` and `locations`
are the resources; `jobs` runs an uploaded file in the background. This package must stay
importable before the app registry is ready (settings read `formats`): no model imports here.
"""
