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
    round(date_diff('minute', opened_at, closed_at) / 60.0, 1) as resolution_hours,
    _loaded_at
from {{ ref('bronze_support_tickets') }}
