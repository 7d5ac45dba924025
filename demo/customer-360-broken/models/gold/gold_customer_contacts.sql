-- VIOLATIONS: pii (email, phone) in the gold layer, granted to an unknown role,
-- and no unique/freshness test on the primary key; gold reads a bronze model
-- (lineage) and a table by its hard-coded name (sql).
select
    c.customer_id,
    c.email,
    c.phone,
    c.country_code
from {{ ref('silver_customers') }} as c
where c.customer_id in (select customer_id from {{ ref('bronze_orders') }})
    and c.customer_id not in (select customer_id from main.do_not_contact)
