"""Agora's storefront: the shop's web pages, rendered on the server over the services' APIs."""
