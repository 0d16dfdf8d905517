"""The embedded local stack: real Kafka, HDFS, ZooKeeper, Hive (Spark Thrift), PostgreSQL and Airflow on 127.0.0.1."""
