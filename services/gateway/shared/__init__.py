"""What every gateway product uses: errors, uploads, pagination, time formatting, publishing,
job records, consumer tables and the product lifecycle.

Nothing here imports a product (import-linter contract).
"""
