"""Offline statistics: Hive tables over the HadoopConsumer's HDFS layout and hourly HQL reports (see DESIGN.md)."""
