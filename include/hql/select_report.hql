{# One hour of one report table, in the report's order (for the CSV files). #}
SELECT {{ columns | join(", ") }}
FROM {{ database }}.{{ table }}
WHERE topic = '{{ topic }}' AND dt = '{{ dt }}' AND hour = '{{ hour }}'
ORDER BY {{ order_by }}
