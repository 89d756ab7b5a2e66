from ledger import Transfer


def test_earn_and_balance(book):
    book.open_account("source:hours", unit="PT", normal="debit")
    book.open_account("member:1", unit="PT", normal="credit", no_overdraft=True)
    book.post([Transfer("source:hours", "member:1", 30)], kind="earn.hours", key="a:1")
    assert book.balance("member:1").posted == 30
    assert book.verify() == []
