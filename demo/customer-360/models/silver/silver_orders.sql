-- Silver: typed orders with a revenue flag (returned and cancelled orders earn nothing).
select
    order_id,
    customer_id,
    order_date,
    status as order_status,
    channel,
    cast(amount as decimal(12, 2)) as order_amount,
    status = 'completed' as is_revenue,
    _loaded_at
from {{ ref('bronze_orders') }}
