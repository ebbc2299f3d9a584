"""Active noise cancellation (seed 004): files, batch jobs, live streams, classification, metrics."""
