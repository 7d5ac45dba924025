-- Bronze: the raw customers seed as landed, stamped with its load time.
select
    *,
    current_timestamp::timestamp as _loaded_at
from {{ ref('raw_customers') }}
