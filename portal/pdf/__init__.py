"""PDF rendering with WeasyPrint: the restricted URL fetcher, the renderer, rasterizing."""
