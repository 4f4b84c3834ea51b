"""Router: decides what each subscriber's message means and what to answer. Owns tenants."""
