print("eticket")
