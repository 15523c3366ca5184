"""robots/actions."""
