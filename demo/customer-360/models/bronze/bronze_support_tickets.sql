-- Bronze: the raw support_tickets seed as landed, stamped with its load time.
select
    *,
    current_timestamp::timestamp as _loaded_at
from {{ ref('raw_support_tickets') }}
