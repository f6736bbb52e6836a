"""Search: complexity matching (solve d, C or depth), design-space sampling, space files."""
