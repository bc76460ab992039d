"""Drop repeated <script> tags from every page.

sphinx-thebe 0.3.1 adds an inline `const THEBE_JS_URL = ...` script after the HTML builder
started; Sphinx 7.4 then lists it twice (once as filename None, once as ''), and the second
copy throws "Identifier 'THEBE_JS_URL' has already been declared" on every page.
"""


def _dedupe(app, pagename, templatename, context, doctree):
    scripts = context.get("script_files")
    if not scripts:
        return
    seen, unique = set(), []
    for js in scripts:
        key = (str(getattr(js, "filename", js) or ""), tuple(sorted(getattr(js, "attributes", {}).items())))
        if key not in seen:
            seen.add(key)
            unique.append(js)
    scripts[:] = unique


def setup(app):
    app.connect("html-page-context", _dedupe, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
