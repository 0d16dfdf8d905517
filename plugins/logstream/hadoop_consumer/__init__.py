"""The HadoopConsumer: exactly-once micro-batches from Kafka topic-partitions into HDFS (see DESIGN.md)."""
