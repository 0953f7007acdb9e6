"""Which channels an event goes to: every route whose camera glob and event type match it."""

from __future__ import annotations

from fnmatch import fnmatchcase

from firewatch.notify.settings import Route


def route_matches(route: Route, camera_id: str, event: str) -> bool:
    camera_ok = any(fnmatchcase(camera_id, pattern) for pattern in route.cameras)
    event_ok = "*" in route.events or event in route.events
    return camera_ok and event_ok


def channels_for(routes: list[Route], camera_id: str, event: str) -> list[str]:
    """The channels of the matching routes, each once, in the order the routes name them."""
    chosen: list[str] = []
    for route in routes:
        if route_matches(route, camera_id, event):
            chosen += [name for name in route.channels if name not in chosen]
    return chosen
