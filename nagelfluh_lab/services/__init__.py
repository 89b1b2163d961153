"""The logic behind the API; handlers only parse, authorize, call these and serialize."""
