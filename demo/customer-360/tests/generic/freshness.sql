{#- Freshness without network or dbt packages: the newest value of a load timestamp
    column must be at most `max_age_hours` old. Fails (returns a row) when stale. -#}
{% test freshness(model, column_name, max_age_hours=24) %}
with latest as (
    select max({{ column_name }}) as loaded_at from {{ model }}
)
select loaded_at
from latest
where loaded_at is null
   or loaded_at < current_timestamp::timestamp - interval '{{ max_age_hours }} hours'
{% endtest %}
