"""The plugin's REST routes as Girder's API root holds them, and which of them a test's table of requests
leaves out: tables that claim to cover every route fail when a new route is not added to them."""
import cherrypy
from girder.exceptions import RestException


def resource():
    """The ``histomics_label`` resource mounted on the running server's API root."""
    return cherrypy.tree.apps[''].root.api.v1.histomics_label


def plugin_routes():
    """Every route of the plugin: sorted ``(METHOD, 'project/:id/...')`` pairs."""
    return sorted((method.upper(), '/'.join(route)) for method, by_length in resource()._routes.items()
                  for routes in by_length.values() for route, _ in routes)


def dispatched(method, path):
    """The route Girder dispatches ``METHOD path`` to (``'project/:id/...'``), or None when none matches."""
    try:
        route, _, _ = resource()._matchRoute(method.lower(), tuple(path.split('/')))
    except RestException:
        return None
    return '/'.join(route)


def coverage_gaps(requests, exempt):
    """``(missing, stale)``: routes no ``(method, path)`` in ``requests`` reaches and that ``exempt`` does not
    name, and requests that reach no route at all (a renamed or removed route)."""
    reached = {(method, dispatched(method, path)) for method, path in requests}
    missing = [route for route in plugin_routes() if route not in reached and route not in exempt]
    stale = [(method, path) for method, path in requests if dispatched(method, path) is None]
    return missing, stale
