-- Runs once, on the first start of the compose PostgreSQL (empty data volume), as the superuser.
-- One database and one owning login role per service: no service can read another's data.
-- DEV-ONLY passwords (role name = password). Production databases come from the city's
-- PostgreSQL operator; see deploy/README.md ("Secrets").

CREATE ROLE reporting LOGIN PASSWORD 'reporting';
CREATE DATABASE reporting OWNER reporting ENCODING 'UTF8' TEMPLATE template0;
REVOKE ALL ON DATABASE reporting FROM PUBLIC;

CREATE ROLE dispatch LOGIN PASSWORD 'dispatch';
CREATE DATABASE dispatch OWNER dispatch ENCODING 'UTF8' TEMPLATE template0;
REVOKE ALL ON DATABASE dispatch FROM PUBLIC;

CREATE ROLE ledger LOGIN PASSWORD 'ledger';
CREATE DATABASE ledger OWNER ledger ENCODING 'UTF8' TEMPLATE template0;
REVOKE ALL ON DATABASE ledger FROM PUBLIC;

CREATE ROLE notification LOGIN PASSWORD 'notification';
CREATE DATABASE notification OWNER notification ENCODING 'UTF8' TEMPLATE template0;
REVOKE ALL ON DATABASE notification FROM PUBLIC;
