"""The pipeline checking itself: Kafka offsets landed exactly once, online counts against offline ones."""
