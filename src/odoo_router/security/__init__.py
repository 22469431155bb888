"""The tenant RPC firewall (streaming JSON-RPC and XML-RPC readers) and basic-auth passwords."""
