-- Silver: support tickets with resolution time in hours (null while still open).
select
    ticket_id,
    customer_id,
    opened_at,
    closed_at,
    priority,
    category,
    satisfaction_score,
    closed_at is not null as is_resolved,
    -- Portable SQL: the same model builds on DuckDB and on PostgreSQL.
    round(cast(extract(epoch from (closed_at - opened_at)) / 3600.0 as numeric), 1)
        as resolution_hours,
    _loaded_at
from {{ ref('bronze_support_tickets') }}
