module canal.local/scripts/gateway-api-cases

go 1.26
