"""The storefront's pages (HTML) and the fragments HTMX swaps into them."""
