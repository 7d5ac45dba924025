-- Bronze: the raw orders seed as landed, stamped with its load time.
select
    *,
    current_timestamp::timestamp as _loaded_at
from {{ ref('raw_orders') }}
