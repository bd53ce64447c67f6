"""Hand-made clean data for the star-schema outputs (08, 09) and their SQL
tables: the tests of the transforms and the saved tables share it."""

HARBOUR = "Harbour City v Northgate"
FINAL = "Cup Final"

# (row_seq, order_id, customer_id, event_name, event_date, venue, purchase_ts, qty, net_sales)
TICKETS = [
    (1, "O1", 1, HARBOUR, "2023-08-12", "Harbour Park", "2023-07-01 10:00:00", 2, "20.00"),
    # same event, later in the file, another venue: the event keeps its first venue
    (2, "O2", 2, HARBOUR, "2023-08-12", "Other Ground", "2023-07-01 09:00:00", 1, "10.50"),
    (3, "O3", 1, FINAL, "2024-05-01", "Wembley", "2024-01-01 12:00:00", 4, "100.00"),
    # same purchase time as O3: order_id breaks the tie
    (4, "O0", 2, FINAL, "2024-05-01", "Wembley", "2024-01-01 12:00:00", 1, "25.00"),
    # same name on another date is another event (venue unknown)
    (5, "O5", 2, HARBOUR, "2024-08-12", None, "2024-08-01 00:00:00", 3, "30.00"),
]
# (row_seq, customer_id, title, first, last, email, phone, postcode)
CUSTOMERS = [
    (1, 1, "Mr", "Ann", "Smith", "ann@example.com", "+44 7700 900123", "AB1 2CD"),
    (2, 2, "Unknown", "=Bob", None, None, None, None),
    (3, 3, "Dr", "Cy", "Lee", "cy@example.com", "07700", "ZZ9 9ZZ"),  # never ordered
]
