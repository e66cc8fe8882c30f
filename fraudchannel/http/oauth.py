"""HTTP routes: oauth (being written)."""

from __future__ import annotations

from fraudchannel.http.routes import ScopedRoutes

routes = ScopedRoutes()
