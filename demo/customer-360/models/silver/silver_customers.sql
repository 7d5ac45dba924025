-- Silver: one clean row per customer; contact details normalised.
select
    customer_id,
    trim(first_name) as first_name,
    trim(last_name) as last_name,
    lower(trim(email)) as email,
    phone,
    upper(country) as country_code,
    segment,
    signup_date,
    _loaded_at
from {{ ref('bronze_customers') }}
