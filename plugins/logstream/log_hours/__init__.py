"""Hours of logs, shared by the HadoopConsumer (which announces them) and the reports (which wait for them).

Below both: nothing here imports ``hadoop_consumer`` or ``hive``; the committed state is read
through the small protocols of ``completeness.py``.
"""
