"""What every gateway product shares; never imports a product (import-linter contract)."""
