"""asyncio vs uvloop vs rloop echo servers, measured by the C++ load generator `echoload`."""
