"""The Earshot console (issue 14): a web app for people, served by the gateway at ``/console/``.

Static files only (``static/``: HTML, CSS, one ES module, vendored libraries); the pages call
the same public API as every other client. See ``docs/console.md``.
"""
