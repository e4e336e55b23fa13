module apipeer

go 1.19
