"""The column lists of the inputs and of the clean data, in one place
(docs/contract.md §1 and §5): the readers, the cleaning rules, the staged data
and the insights all take them from here."""

# tickets.csv's header, in order; also the clean tickets' columns
TICKET_COLUMNS = (
    "order_id", "customer_id", "event_name", "event_date",
    "venue", "purchase_ts", "quantity", "net_sales",
)
# the keys of a customer.json record that are read (contact details aside)
CUSTOMER_FIELDS = ("CustomerIdentity", "Customer Title", "First Name", "Last Name", "Email")
# a clean customer, as staged and as 09's dim_customer
CUSTOMER_COLUMNS = (
    "customer_id", "customer_title", "first_name", "last_name", "email", "phone", "postcode",
)
