'use strict';
// Which cache domains a GraphQL operation reads.
//
// A PostGraphile plugin records, for every GraphQL object type built from a
// table (row, connection, edge and mutation payload types), which table it
// came from. An operation's domains are those of every table-backed type
// any of its fields returns, wherever it is nested (relations included).
// A field of any other object, interface or union type (Node, a custom
// composite type...) makes the operation uncacheable: its reads are unknown,
// and a cached answer could go stale unseen. Scalar computed columns that
// read other tables are not seen either: do not cache such schemas blindly.

const { TypeInfo, visit, visitWithTypeInfo, getNamedType, isLeafType } = require('graphql');

// Object types that carry no data of their own.
const STRUCTURAL = new Set(['Query', 'Mutation', 'PageInfo']);

function makeTableTypesPlugin(typeTables) {
  return function TableTypesPlugin(builder) {
    builder.hook('GraphQLObjectType', (config, build, context) => {
      const { scope } = context;
      const table = scope && scope.pgIntrospection;
      if (table && table.kind === 'class' && (scope.isPgRowType || scope.isPgRowConnectionType ||
          scope.isPgRowEdgeType || scope.isMutationPayload)) {
        typeTables.set(config.name, `${table.namespaceName}.${table.name}`);
      }
      return config;
    });
  };
}

// tracked: Map "schema.table" -> domain (fraiseql_cache.tracked_tables).
function operationDomains(schema, document, typeTables, tracked) {
  const domains = new Set();
  const unknown = new Set();
  const typeInfo = new TypeInfo(schema);
  visit(document, visitWithTypeInfo(typeInfo, {
    Field() {
      const type = getNamedType(typeInfo.getType());
      if (!type || isLeafType(type) || STRUCTURAL.has(type.name)) return;
      const table = typeTables.get(type.name);
      const domain = table && tracked.get(table);
      if (domain) domains.add(domain);
      else unknown.add(type.name);
    },
  }));
  return { domains: [...domains].sort(), cacheable: unknown.size === 0, unknown: [...unknown] };
}

module.exports = { makeTableTypesPlugin, operationDomains };
