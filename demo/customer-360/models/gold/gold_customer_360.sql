-- Gold: one row per customer joining orders and support into a single profile.
-- Contact details (pii) stay in silver; gold carries no pii.
with orders as (
    select
        customer_id,
        count(*) as order_count,
        sum(case when is_revenue then order_amount else 0 end) as lifetime_revenue,
        max(order_date) as last_order_date
    from {{ ref('silver_orders') }}
    group by customer_id
),

tickets as (
    select
        customer_id,
        count(*) as ticket_count,
        count(*) filter (where not is_resolved) as open_ticket_count,
        avg(satisfaction_score) as avg_satisfaction
    from {{ ref('silver_support_tickets') }}
    group by customer_id
)

select
    c.customer_id,
    c.country_code,
    c.segment,
    c.signup_date,
    coalesce(o.order_count, 0) as order_count,
    cast(coalesce(o.lifetime_revenue, 0) as decimal(14, 2)) as lifetime_revenue,
    o.last_order_date,
    coalesce(t.ticket_count, 0) as ticket_count,
    coalesce(t.open_ticket_count, 0) as open_ticket_count,
    cast(round(t.avg_satisfaction, 2) as decimal(6, 2)) as avg_satisfaction,
    case
        when coalesce(o.lifetime_revenue, 0) >= 1000 then 'platinum'
        when coalesce(o.lifetime_revenue, 0) >= 300 then 'gold'
        when coalesce(o.lifetime_revenue, 0) > 0 then 'silver'
        else 'prospect'
    end as customer_tier,
    c._loaded_at
from {{ ref('silver_customers') }} as c
left join orders as o on o.customer_id = c.customer_id
left join tickets as t on t.customer_id = c.customer_id
