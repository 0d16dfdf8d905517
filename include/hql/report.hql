-- hive_reports' report task: every hour planned by the topic's plan task (params.plan_task).
{% for h in ti.xcom_pull(task_ids=params.plan_task) %}
{% include "report_hour.hql" %}
{% endfor %}
