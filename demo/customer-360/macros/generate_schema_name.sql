{#- Use the configured schema as is (bronze/silver/gold): those are the platform's
    approved namespaces, so they must not get the target schema as a prefix. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
