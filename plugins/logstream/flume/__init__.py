"""The collection tiers: Flume L1 agents on the front-end hosts, L2 convergence agents into Kafka."""
