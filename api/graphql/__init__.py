"""The pieces of the GraphQL schema: context and DataLoaders, CRM types, scores, pagination.

`api.schema.build_schema()` assembles them; import from there.
"""
