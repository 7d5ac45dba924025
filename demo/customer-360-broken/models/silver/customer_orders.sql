-- VIOLATION (naming): a silver model without the `silver_` prefix.
select
    o.order_id,
    o.customer_id,
    c.email,
    o.order_amount
from {{ ref('silver_orders') }} as o
join {{ ref('silver_customers') }} as c on c.customer_id = o.customer_id
