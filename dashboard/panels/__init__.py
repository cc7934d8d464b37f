"""Each page's own panels, beside the page: ``dashboard/panels/<page>.py`` for ``pages/<page>.py``.

A panel draws one section of its page from arguments the page passes; what several pages share
is in :mod:`dashboard.ui`, and what a panel shows is computed in ``fer_core``.
"""
