-- VIOLATIONS: pii (email, phone) in the gold layer, granted to an unknown role,
-- and no unique/freshness test on the primary key.
select
    customer_id,
    email,
    phone,
    country_code
from {{ ref('silver_customers') }}
