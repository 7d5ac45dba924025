-- Gold: revenue by country, segment and channel for the dashboards.
select
    c.country_code || '|' || c.segment || '|' || o.channel as summary_key,
    c.country_code,
    c.segment,
    o.channel,
    count(distinct o.customer_id) as customer_count,
    count(*) as order_count,
    cast(sum(case when o.is_revenue then o.order_amount else 0 end) as decimal(14, 2))
        as revenue,
    max(o._loaded_at) as _loaded_at
from {{ ref('silver_orders') }} as o
join {{ ref('silver_customers') }} as c on c.customer_id = o.customer_id
group by c.country_code, c.segment, o.channel
